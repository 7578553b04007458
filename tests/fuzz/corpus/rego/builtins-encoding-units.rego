package policy

allow if {
	array.flatten([[1, [2]], input.a]) == [1, [2], 1, 2, 3]
	json.marshal_with_options(input.submods, {"indent": "  ", "prefix": "> "}) != ""
	json.marshal_with_options({2: {1}}, {"pretty": true}) != ""
	units.parse_bytes("1.5KiB") == 1536
	units.parse("10m") < 1
	opa.runtime() == {}
}
