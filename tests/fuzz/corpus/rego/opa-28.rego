package test

p if {
	q
}

xs := {1, 2}

q := false if {
	false
} else := xs[_]
