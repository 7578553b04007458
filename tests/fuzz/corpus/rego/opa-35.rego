package test

p if {
	every v in [1, 2] { v != 2 }
}
