package generated

p := x if {
	array.slice([1, 2, 3], 1000, 2000, __local0__)
	x = __local0__
}
