package slo

import "testing"

func TestQueries(t *testing.T) {
	t.Parallel()
	tests := []struct{ got, want string }{
		{http5xxQuery("threader", "15m"), `avg_over_time(job:http_5xx_ratio_1m{job="threader"}[15m])`},
		{healthQuery("threader", "15m"), `avg_over_time(job:health_ok_ratio_1m{job="threader"}[15m])`},
		{errorLogCountQuery("threader", "15m"), `sum(count_over_time({job="threader"} |~ "ERROR|Exception|Traceback" [15m]))`},
		{logVolumeQuery("threader", "15m"), `sum(count_over_time({job="threader"}[15m]))`},
		{jobSelector(`a"b\c`), `{job="a\"b\\c"}`},
		{jobSelector("line\nbreak"), `{job="line\nbreak"}`},
		{jobSelector(`"}[1d]) or vector(0) #`), `{job="\"}[1d]) or vector(0) #"}`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got  %s\nwant %s", tt.got, tt.want)
		}
	}
}
