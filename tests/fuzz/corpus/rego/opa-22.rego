package generated

p contains i if {
	xs = {s: x | x = data.a[_]; format_int(x, 10, s)}
	y = xs[i]
	y > 1
}
