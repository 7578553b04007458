package test

p if {
  package.foo == 1
  foo.package == 2
}

package.foo := 1

foo.package := 2
