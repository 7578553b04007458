package test

p if {
	1 in [1]
}
