package test

p if {
  else.foo == {"a", "c"}
  foo.else == {"a", "c"}
}

else.foo contains "a"

else.foo contains "b" if {
  false
}

else.foo contains "c" if {
  true
}

foo.else contains "a"

foo.else contains "b" if {
  false
}

foo.else contains "c" if {
  true
}
