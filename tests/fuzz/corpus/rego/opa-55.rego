package generated

p contains x if {
	__local0__ = data.a[i]
	__local1__ = data.h[i][__local0__]
	x = data.a[__local1__]
}
