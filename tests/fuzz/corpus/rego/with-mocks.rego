package policy

f(x) := x + 1
g(x) := count(x) + 1
fake(_) := {"body": {"ok": true}}
r := 3
now_is(t) if time.now_ns() == t
get := http.send({"url": "x"}).body.ok

allow if {
	f(1) == 42 with f as 42
	count([1]) == 2 with count as g
	now_is(5) with time.now_ns as 5
	f(1) == 3 with f as r
	get with http.send as fake
		with input.tee as "x"
	query_reference_value("a") == 7 with query_reference_value as 7
}
