package generated

p if {
	data.a[true]
}
