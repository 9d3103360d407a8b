package manifest

import "testing"

func TestRepositoryPath(t *testing.T) {
	tests := []struct {
		s      string
		nested bool // GitLab
		want   bool
	}{
		{"egov/DIGIT-DevOps", false, true},
		{"egov/digit.devops_2", false, true},
		{"egov", false, false},
		{"a/b/c", false, false},
		{"../x", false, false},
		{"egov/..", false, false},
		{"egov/a b", false, false},
		{"egov/a%2F..", false, false},
		{"12345", false, false},
		{"12345", true, true},
		{"group/subgroup/project", true, true},
		{"group//project", true, false},
		{"group/p?x=1", true, false},
		{"", true, false},
	}
	for _, tt := range tests {
		if got := repositoryPath(tt.s, tt.nested); got != tt.want {
			t.Errorf("repositoryPath(%q, nested=%v) = %v, want %v", tt.s, tt.nested, got, tt.want)
		}
	}
}
