package ex

non_bool := null if {
	false
} else := [100]
