package policy

allow if {
	time.date([0, "America/New_York"]) == [1969, 12, 31]
	time.clock([4118126400000000000, "America/New_York"]) == [8, 0, 0]
	time.format([1670006453141828752, "Asia/Kolkata", "Mon Jan _2 3:04:05.000 PM MST 2006 002 Z07:00"]) != ""
	time.parse_ns("01/02 03:04:05PM '06 -0700", "06/02 07:00:00PM '17 -0700") > 0
	time.parse_duration_ns("1h2m3.5s") > 0
	time.diff([0, "UTC"], [90061000000000, "Asia/Shanghai"]) != []
	time.add_date([0, "Europe/Berlin"], 0, 1, 1) > 0
}
