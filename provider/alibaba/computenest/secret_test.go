package computenest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	simcn "github.com/upgradeplan/upgradeplan/cloudsim/computenest"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/internal/secretname"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
)

func TestUpgradeSendsTheSecretAndLeaksItNowhere(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	logged := provider.DoerFunc(func(ctx context.Context, req provider.Request, send func(context.Context) error) error {
		err := send(ctx)
		logger.Info("request", "action", req.Action, "instance", req.Instance, "err", err)
		return err
	})
	s := simtest.Start(t, accounts+"durations: {computenest: 1h}\ncomputenest:\n"+serviceInstance("si-1", "Deployed", "{env: test}"),
		sim.Options{TimeScale: 3600}, simcn.New())
	env := map[string]string{"UPGRADEPLAN_ALIBABA_ENDPOINT": s.Addr, "T_AK": "test-ak", "T_SK": "test-sk", "SI_PASSWORD": secret}
	p, err := New(provider.Config{Region: region, Doer: logged,
		Account: provider.Account{Name: "ali-test", KeyID: provider.SecretRef{FromEnv: "T_AK"}, Secret: provider.SecretRef{FromEnv: "T_SK"}},
		Getenv:  providertest.Getenv(env)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	changes, err := p.Plan(ctx, one(t, p, "si-1"), provider.Desired{"serviceVersion": "3",
		"parameters": map[string]any{"EcsInstanceType": "ecs.g7.large", "InstancePassword": provider.SecretRef{FromEnv: "SI_PASSWORD"}}})
	if err != nil {
		t.Fatal(err)
	}
	// The plan holds the reference, never the value.
	planned, _ := json.Marshal(changes)
	if bytes.Contains(planned, []byte("pa55")) || !bytes.Contains(planned, []byte("SI_PASSWORD")) {
		t.Errorf("planned change %s: want the reference and not the value", planned)
	}

	ch := changes[0]
	params := roundTrip(t, ch.Params) // as a plan file reads back: the secret is {"fromEnv": ...}
	call := provider.Call{Instance: "si-1", Action: ch.Action, Params: params, ClientToken: "digest-1/marketplace/si-1"}
	rec, err := p.Apply(ctx, call)
	if err != nil {
		t.Fatal(err)
	}
	if rec.RequestID == "" {
		t.Errorf("receipt %+v has no request id", rec)
	}
	calls := s.CallsTo("UpgradeServiceInstance")
	sent := calls[len(calls)-1].Params
	var sentParams map[string]string
	if err := json.Unmarshal([]byte(calls[len(calls)-1].Unmasked("Parameters")), &sentParams); err != nil || sentParams["InstancePassword"] != secret || sentParams["EcsInstanceType"] != "ecs.g7.large" {
		t.Errorf("the simulator received Parameters %q, want the manifest's parameters with the password resolved", sent["Parameters"])
	}
	if sent["ServiceVersion"] != "3" || sent["ServiceInstanceId"] != "si-1" || sent["DryRun"] != "false" || sent["ClientToken"] != call.ClientToken {
		t.Errorf("the simulator received %v, want version 3, DryRun false and the token", sent)
	}

	// Resending with the same token does not upgrade twice.
	if _, err := p.Apply(ctx, call); err != nil {
		t.Fatalf("resending the same token: %v", err)
	}
	w := provider.Watch{Instance: "si-1", Action: ch.Action, From: ch.From, To: ch.To, Started: true}
	got, err := p.Observe(ctx, []provider.Watch{w})
	if err != nil || got[0].State != provider.StateInProgress || got[0].Status != "Upgrading" {
		t.Errorf("right after the call: %+v, %v; want in-progress, Upgrading", got, err)
	}
	waitFor(t, p, w, provider.StateDone)
	if n := upgrades(t, s, "si-1"); n != 1 {
		t.Errorf("the instance was upgraded %d times, want once", n)
	}
	// The same token with other parameters is refused, and the refusal carries no secret.
	call.Params = map[string]any{"ServiceVersion": "4", "Parameters": params["Parameters"]}
	_, err = p.Apply(ctx, call)
	if pe, ok := provider.AsError(err); !ok || pe.Code != "IdempotentParameterMismatch" {
		t.Errorf("same token, other parameters: %v, want IdempotentParameterMismatch", err)
	}

	// Transport failures quote the request URL, where every parameter travels: scrubbed.
	dead := open(t, "127.0.0.1:1", map[string]string{"SI_PASSWORD": secret})
	_, deadErr := dead.Apply(ctx, provider.Call{Instance: "si-1", Action: ch.Action, Params: params})
	if deadErr == nil {
		t.Fatal("Apply to a closed port succeeded")
	}
	_, planErr := dead.Plan(ctx, one(t, p, "si-1"), provider.Desired{"serviceVersion": "4",
		"parameters": map[string]any{"InstancePassword": provider.SecretRef{FromEnv: "SI_PASSWORD"}}})
	if planErr == nil {
		t.Fatal("Plan against a closed port succeeded")
	}
	missing := open(t, s.Addr, nil)
	_, unsetErr := missing.Apply(ctx, provider.Call{Instance: "si-1", Action: ch.Action, Params: params})
	if unsetErr == nil || !strings.Contains(unsetErr.Error(), "SI_PASSWORD is not set") {
		t.Errorf("an unset secret: %v, want an error naming SI_PASSWORD", unsetErr)
	}

	var texts []string
	for _, e := range []error{err, deadErr, planErr, unsetErr} {
		texts = append(texts, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e))
		if pe, ok := provider.AsError(e); ok {
			texts = append(texts, pe.Message)
			if pe.Err != nil {
				texts = append(texts, pe.Err.Error())
			}
		}
	}
	texts = append(texts, logs.String(), fmt.Sprintf("%+v", rec))
	for _, text := range texts {
		for _, form := range secretForms() {
			if strings.Contains(text, form) {
				t.Fatalf("the secret (as %q) leaked into %q", form, text)
			}
		}
	}
}

// secretForms are the encodings a leak of the secret could take.
func secretForms() []string {
	j, _ := json.Marshal(secret)
	return []string{secret, "pa55", "pa55+w0rd", "pa55%20w0rd", strings.Trim(string(j), `"`)}
}
func roundTrip(t *testing.T, params map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// A wrong AccessKey secret is answered with SignatureDoesNotMatch and the server's string
// to sign, which holds every request parameter, the resolved password among them: neither
// the error nor anything it wraps may carry it.
func TestASignatureRefusalDoesNotEchoTheSecret(t *testing.T) {
	s := simtest.Start(t, accounts+"computenest:\n"+serviceInstance("si-1", "Deployed", "{env: test}"), sim.Options{}, simcn.New())
	p := open(t, s.Addr, map[string]string{"T_SK": "not-the-secret-key", "SI_PASSWORD": secret})
	_, err := p.Apply(context.Background(), provider.Call{Instance: "si-1", Action: ActionUpgrade, ClientToken: "tok-1",
		Params: map[string]any{"ServiceInstanceId": "si-1", "ServiceVersion": "3",
			"Parameters": map[string]any{"InstancePassword": map[string]any{"fromEnv": "SI_PASSWORD"}}}})
	pe, ok := provider.AsError(err)
	if !ok || pe.Code != "SignatureDoesNotMatch" || pe.Class != provider.ClassPermanent || pe.RequestID == "" {
		t.Fatalf("Apply with a wrong key secret: %v, want a permanent SignatureDoesNotMatch with a request id", err)
	}
	texts := []string{err.Error(), fmt.Sprintf("%+v", err), pe.Message}
	for e := error(pe); e != nil; e = errors.Unwrap(e) {
		texts = append(texts, e.Error())
	}
	for _, text := range texts {
		for _, form := range append(secretForms(), "pa55%2520w0rd") {
			if strings.Contains(text, form) {
				t.Fatalf("the secret (as %q) leaked into %q", form, text)
			}
		}
	}
}

// openLogged opens the provider at addr with a Doer that logs every call's error, as the
// executor's does.
func openLogged(t *testing.T, addr string, env map[string]string, logs *bytes.Buffer) *Provider {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(logs, nil))
	logged := provider.DoerFunc(func(ctx context.Context, req provider.Request, send func(context.Context) error) error {
		err := send(ctx)
		logger.Info("request", "action", req.Action, "err", err)
		return err
	})
	all := map[string]string{"UPGRADEPLAN_ALIBABA_ENDPOINT": addr, "T_AK": "test-ak", "T_SK": "test-sk"}
	maps.Copy(all, env)
	p, err := New(provider.Config{Region: region, Doer: logged, Getenv: providertest.Getenv(all),
		Account: provider.Account{Name: "ali-test", KeyID: provider.SecretRef{FromEnv: "T_AK"}, Secret: provider.SecretRef{FromEnv: "T_SK"}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A refusal that echoes the request's Parameters late in a long message is kept only in
// part (512 bytes): wherever that cut falls in the password, neither the error (which
// becomes error.message in run.json, the report and notifications) nor the Doer's log
// keeps any part of it, at plan time (DryRun) or apply time.
func TestARefusalEchoingTheParametersPastItsCutKeepsNoPartOfTheSecret(t *testing.T) {
	var pad atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		msg := strings.Repeat("x", int(pad.Load())) + "Parameters=" + r.Form.Get("Parameters")
		w.WriteHeader(400)
		json.NewEncoder(w).Encode(map[string]string{"RequestId": "REQ-1", "Code": "InvalidParameter", "Message": msg})
	}))
	defer hs.Close()
	var logs bytes.Buffer
	p := openLogged(t, strings.TrimPrefix(hs.URL, "http://"), map[string]string{"SI_PASSWORD": secret}, &logs)
	ref := map[string]any{"InstancePassword": map[string]any{"fromEnv": "SI_PASSWORD"}}
	prefix := len(`Parameters={"InstancePassword":"`)
	ctx := context.Background()
	for n := 512 - prefix - len(secret) - 2; n <= 512-prefix+1; n++ {
		pad.Store(int64(n))
		_, applyErr := p.Apply(ctx, provider.Call{Instance: "si-1", Action: ActionUpgrade, ClientToken: "tok",
			Params: map[string]any{"ServiceVersion": "3", "Parameters": ref}})
		_, dryErr := p.dryRun(ctx, "si-1", "3", map[string]any{"InstancePassword": provider.SecretRef{FromEnv: "SI_PASSWORD"}})
		for _, err := range []error{applyErr, dryErr} {
			pe, ok := provider.AsError(err)
			if !ok || pe.Code != "InvalidParameter" {
				t.Fatalf("pad %d: %v, want the cloud's InvalidParameter", n, err)
			}
			texts := []string{err.Error(), fmt.Sprintf("%+v", err), pe.Message, logs.String()}
			for e := error(pe); e != nil; e = errors.Unwrap(e) {
				texts = append(texts, e.Error())
			}
			for _, text := range texts {
				for _, form := range secretForms() {
					if strings.Contains(text, form) {
						t.Fatalf("pad %d: the secret (as %q) survived the cut: %q", n, form, text[max(0, len(text)-80):])
					}
				}
			}
		}
	}
}

type stopAnswer struct{}

func (stopAnswer) Error() string { return "not sent: the run stopped" }

// A call that carries a secret and that the Doer answers itself (a step caught waiting for
// its token at the window cutoff) returns the Doer's answer as its cause, so the executor
// records the step as not started rather than failed.
func TestTheDoersOwnAnswerToACallCarryingASecretStaysRecognisable(t *testing.T) {
	stop := provider.DoerFunc(func(context.Context, provider.Request, func(context.Context) error) error {
		return &provider.Error{Class: provider.ClassPermanent, Message: "not sent", Err: stopAnswer{}}
	})
	p, err := New(provider.Config{Region: region, Doer: stop, Getenv: providertest.Getenv(map[string]string{
		"UPGRADEPLAN_ALIBABA_ENDPOINT": "127.0.0.1:1", "T_AK": "test-ak", "T_SK": "test-sk", "SI_PASSWORD": secret}),
		Account: provider.Account{Name: "ali-test", KeyID: provider.SecretRef{FromEnv: "T_AK"}, Secret: provider.SecretRef{FromEnv: "T_SK"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Apply(context.Background(), provider.Call{Instance: "si-1", Action: ActionUpgrade, ClientToken: "tok",
		Params: map[string]any{"ServiceVersion": "3", "Parameters": map[string]any{"InstancePassword": map[string]any{"fromEnv": "SI_PASSWORD"}}}})
	var sa stopAnswer
	if !errors.As(err, &sa) {
		t.Errorf("Apply returned %#v, which lost the Doer's answer", err)
	}
}

// Every name SecretName calls secret, sent resolved from the environment, is masked in
// what the simulator shows: its call log and its state.
func TestSimulatorShowsNoParameterTheProviderCallsSecret(t *testing.T) {
	env := map[string]string{"SI_PASSWORD": secret}
	parameters := map[string]any{"EcsInstanceType": "ecs.g7.large", "InstancePassword": map[string]any{"fromEnv": "SI_PASSWORD"}}
	for _, word := range secretname.Words {
		name := "Api" + strings.ToUpper(word[:1]) + word[1:] // ApiToken, ApiKey, ...
		if !SecretName(name) {
			t.Fatalf("SecretName(%q) = false", name)
		}
		env["SI_"+strings.ToUpper(word)] = "resolved-" + word + "-value"
		parameters[name] = map[string]any{"fromEnv": "SI_" + strings.ToUpper(word)}
	}
	s, p := start(t, serviceInstance("si-1", "Deployed", "{env: test}"), "", env)
	if _, err := p.Apply(context.Background(), provider.Call{Instance: "si-1", Action: ActionUpgrade, ClientToken: "tok",
		Params: map[string]any{"ServiceVersion": "3", "Parameters": parameters}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, provider.Watch{Instance: "si-1", Action: ActionUpgrade, From: provider.Values{valueVersion: "2"},
		To: provider.Values{valueVersion: "3"}, Started: true}, provider.StateDone) // the state holds the new parameters
	for _, path := range []string{"/_sim/calls", "/_sim/state"} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, v := range env {
			if strings.Contains(string(body), v) {
				t.Errorf("%s shows the secret %q: %s", path, v, body)
			}
		}
		if !strings.Contains(string(body), "ecs.g7.large") {
			t.Errorf("%s lost the parameter that is not secret: %s", path, body)
		}
	}
}
