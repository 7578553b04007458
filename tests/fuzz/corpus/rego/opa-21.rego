package generated

p := {"a": [x, y]} if {
	x = 1
	y = 2
}
