package test

p if {
  if.foo == 1
  foo.if == 2
}

if.foo := 1

foo.if := 2
