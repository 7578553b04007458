package test

p := object.keys({{"a": 1}: 1, {"b": 2}: 2})
