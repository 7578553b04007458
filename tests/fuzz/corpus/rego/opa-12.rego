package generated

p := x if {
	array.slice([1, 2, 3], 0, 0, __local0__)
	x = __local0__
}
