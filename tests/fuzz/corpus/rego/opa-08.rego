package generated

p if {
	__local0__ = 2 + 3
	not data.a[2] = __local0__
}
