package generated

p if {
	data.a[3] = x
	x = 3
}
