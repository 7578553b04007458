package policy

p[q] contains r if {
	some q in ["a", "b"]
	some r in input.a
}

p.b contains "foo"

doc := yaml.unmarshal("a: 1\nb: [x, 'y', yes, ~, 0x1f, 1.5e3]\nc: {d: e}")

allow if {
	yaml.is_valid(yaml.marshal({"k": {1, 2}, "s": "x: y", "p": p}))
	doc.b[2] == true
	count(p.b) == 4
}
