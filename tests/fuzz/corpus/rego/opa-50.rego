package test

p if {
  not.foo == 1
  foo.not == 2
}

not.foo := 1

foo.not := 2
