package generated

p if {
  to_number("Infinity", b)
}
