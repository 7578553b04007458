package generated

p contains x if {
	__local0__ = data.generated.q.b
	x = data.a[__local0__]
}

q[k] := v if {
	o = {"a": 2, "b": 3, "c": 100}
	o[k] = v
}
