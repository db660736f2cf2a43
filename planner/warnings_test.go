package planner

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

func TestWarningsSayWhatAReviewerMustHear(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	reg := provider.Registry{"fake.cache": {Kind: "fake.cache", ShortestOperation: time.Minute}}
	base := func() *Plan {
		return &Plan{CreatedAt: now.Add(-time.Hour), Settings: Settings{Parallelism: 10, PollInterval: Duration(15 * time.Second), StepTimeout: Duration(2 * time.Hour)},
			Steps: []Step{{ID: "a/c-1", Kind: "fake.cache"}}}
	}
	tests := []struct {
		name string
		edit func(p *Plan)
		want string // "" for no warning
	}{
		{"a fresh plan with defaults", func(*Plan) {}, ""},
		{"a window that closed in 2020", func(p *Plan) {
			p.Settings.Window = &Window{Start: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2020, 1, 1, 4, 0, 0, 0, time.UTC), Cutoff: Duration(30 * time.Minute)}
		}, "the change window closed at 2020-01-01T03:30:00Z"},
		{"a window two days away", func(p *Plan) {
			p.Settings.Window = &Window{Start: now.Add(49 * time.Hour), End: now.Add(53 * time.Hour)}
		}, "2 days from now"},
		{"a window open now", func(p *Plan) {
			p.Settings.Window = &Window{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}
		}, ""},
		{"a plan 30 days old", func(p *Plan) { p.CreatedAt = now.Add(-30 * 24 * time.Hour) }, "the plan was made 30 days ago"},
		{"stepTimeout 1ns", func(p *Plan) { p.Settings.StepTimeout = 1 }, "stepTimeout 1ns is shorter than the shortest fake.cache upgrade (1m0s)"},
		{"a rate of one call an hour", func(p *Plan) { p.Settings.QPS = map[string]float64{"fake.cache/Resize": 1.0 / 3600} }, "under one call a minute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			tt.edit(p)
			got := Warnings(p, reg, now, 0)
			switch {
			case tt.want == "" && len(got) > 0:
				t.Fatalf("warnings %q; want none", got)
			case tt.want != "" && !slices.ContainsFunc(got, func(w string) bool { return strings.Contains(w, tt.want) }):
				t.Fatalf("warnings %q; want one saying %q", got, tt.want)
			}
		})
	}
	if got := Warnings(&Plan{CreatedAt: now.Add(-30 * 24 * time.Hour)}, reg, now, 60*24*time.Hour); len(got) != 0 {
		t.Errorf("--max-plan-age 60 days still warns about a 30-day-old plan: %q", got)
	}
}

func TestMissingEnvListsEveryVariableThePlanNeeds(t *testing.T) {
	p := &Plan{
		Accounts: map[string]provider.Account{
			"prod":   {Name: "prod", KeyIDLiteral: "LTAIexample", Secret: provider.SecretRef{FromEnv: "PROD_SK"}},
			"unused": {Name: "unused", KeyID: provider.SecretRef{FromEnv: "UNUSED_AK"}, Secret: provider.SecretRef{FromEnv: "UNUSED_SK"}},
		},
		Steps: []Step{
			{ID: "a/1", Account: "prod", Params: map[string]any{"Parameters": map[string]any{"InstancePassword": map[string]any{"fromEnv": "SI_PASSWORD"}, "DbToken": map[string]any{"fromEnv": "DB_TOKEN"}}}},
			{ID: "b/1", Params: map[string]any{"Parameters": map[string]any{"Other": map[string]any{"fromEnv": "SET_ONE"}}}},
		},
	}
	got := MissingEnv(p, func(name string) string {
		if name == "SET_ONE" {
			return "x"
		}
		return ""
	})
	if want := []string{"DB_TOKEN", "PROD_SK", "SI_PASSWORD"}; !slices.Equal(got, want) {
		t.Fatalf("MissingEnv = %q; want %q", got, want)
	}
}
