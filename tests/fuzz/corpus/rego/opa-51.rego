package test

p if {
  not.foo == 3
  foo.not == 6
}

not.foo := 1 if {
  input.x == 1
} else := 2 if {
  input.x == 2
} else := 3

foo.not := 4 if {
  input.x == 1
} else := 5 if {
  input.x == 2
} else := 6
