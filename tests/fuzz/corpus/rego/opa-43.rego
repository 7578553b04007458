package test

p if {
  contains.foo == {"a", "c"}
  foo.contains == {"a", "c"}
}

contains.foo contains "a"

contains.foo contains "b" if {
  false
}

contains.foo contains "c" if {
  true
}

foo.contains contains "a"

foo.contains contains "b" if {
  false
}

foo.contains contains "c" if {
  true
}
