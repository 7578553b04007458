package generated

p := 1 if {
	false
}

default p := 0

p := 2 if {
	false
}
