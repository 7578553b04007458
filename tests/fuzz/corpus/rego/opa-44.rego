package test

p if {
  default.foo == 1
  foo.default == 2
}

default.foo := 1

foo.default := 2
