package generated

p if {
	"string" = "string"
}
