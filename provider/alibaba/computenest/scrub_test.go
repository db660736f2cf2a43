package computenest

import (
	"errors"
	"strings"
	"testing"

	"github.com/upgradeplan/upgradeplan/provider"
)

type stopAnswer struct{}

func (stopAnswer) Error() string { return "not sent: the run stopped" }

// scrub removes secrets from an error's texts but keeps a cause that holds none, so the
// executor still recognises its own "not sent" answer of a stopped run (a step caught
// waiting for its token at the window cutoff was recorded failed, permanent, instead of
// not started).
func TestScrubKeepsACauseWithoutSecrets(t *testing.T) {
	err := scrub(&provider.Error{Class: provider.ClassPermanent, Message: "not sent", Err: stopAnswer{}}, []string{"s3cret-Pa55"})
	var sa stopAnswer
	if !errors.As(err, &sa) {
		t.Errorf("scrub lost the cause: %#v", err)
	}
	err = scrub(&provider.Error{Class: provider.ClassRetryable, Message: "bad InstancePassword s3cret-Pa55", Err: errors.New("body: s3cret-Pa55")}, []string{"s3cret-Pa55"})
	if strings.Contains(err.Error(), "s3cret-Pa55") || strings.Contains(errors.Unwrap(err).Error(), "s3cret-Pa55") {
		t.Errorf("scrub kept a secret: %v / %v", err, errors.Unwrap(err))
	}
}
