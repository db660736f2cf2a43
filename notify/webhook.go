package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Format is the body shape a webhook accepts.
type Format string

const (
	FormatJSON     Format = "json"     // the Summary itself
	FormatSlack    Format = "slack"    // Slack incoming webhook: {"text": ...}
	FormatDingTalk Format = "dingtalk" // DingTalk robot: {"msgtype": "markdown", ...}
	FormatWeCom    Format = "wecom"    // WeCom (企业微信) group robot: {"msgtype": "markdown", ...}
	FormatFeishu   Format = "feishu"   // Feishu/Lark custom bot: {"msg_type": "text", ...}
)

var formats = []Format{FormatJSON, FormatSlack, FormatDingTalk, FormatWeCom, FormatFeishu}

// Target is one --notify destination.
type Target struct {
	Format Format
	URL    string
}

// Redacted names the target without what makes its URL a credential (the path and query
// of a webhook URL hold its token): "slack https://hooks.slack.com/…".
func (t Target) Redacted() string {
	u, err := url.Parse(t.URL)
	if err != nil || u.Host == "" {
		return string(t.Format) + " webhook"
	}
	return fmt.Sprintf("%s %s://%s/…", t.Format, u.Scheme, u.Host)
}

// ParseTarget reads one --notify value:
//
//	URL                 the format follows from the host (hooks.slack.com, oapi.dingtalk.com,
//	                    qyapi.weixin.qq.com, open.feishu.cn / open.larksuite.com), else json
//	FORMAT=URL          json, slack, dingtalk, wecom or feishu, for any host (a proxy, a test)
//	env:NAME, FORMAT=env:NAME
//	                    the URL is read from the environment variable NAME, so a webhook
//	                    token can stay in a Kubernetes Secret instead of a command line
//
// Errors never echo the URL.
func ParseTarget(value string, getenv func(string) string) (Target, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var t Target
	rest := value
	if f, u, ok := strings.Cut(value, "="); ok && !strings.Contains(f, ":") && !strings.Contains(f, "/") {
		t.Format, rest = Format(strings.ToLower(f)), u
		if !knownFormat(t.Format) {
			return Target{}, fmt.Errorf("--notify: unknown format %q: use %s", f, formatList())
		}
	}
	if name, ok := strings.CutPrefix(rest, "env:"); ok {
		rest = getenv(name)
		if rest == "" {
			return Target{}, fmt.Errorf("--notify: environment variable %s (the webhook URL) is not set", name)
		}
	}
	u, err := url.Parse(rest)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Target{}, errors.New("--notify: the webhook URL must be an absolute http:// or https:// URL ([FORMAT=]URL or [FORMAT=]env:NAME)")
	}
	t.URL = rest
	if t.Format == "" {
		t.Format = formatFor(u.Hostname())
	}
	return t, nil
}

func knownFormat(f Format) bool {
	for _, k := range formats {
		if f == k {
			return true
		}
	}
	return false
}

func formatList() string {
	s := make([]string, len(formats))
	for i, f := range formats {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

func formatFor(host string) Format {
	switch {
	case host == "hooks.slack.com":
		return FormatSlack
	case host == "oapi.dingtalk.com":
		return FormatDingTalk
	case host == "qyapi.weixin.qq.com":
		return FormatWeCom
	case host == "open.feishu.cn", host == "open.larksuite.com":
		return FormatFeishu
	}
	return FormatJSON
}

// Body renders the summary in the target's format.
func Body(f Format, s Summary) ([]byte, error) {
	var v any
	switch f {
	case FormatJSON:
		v = s
	case FormatSlack:
		v = map[string]any{"text": s.text(mrkdwn)}
	case FormatDingTalk:
		v = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": s.headline(), "text": s.text(markdown)}}
	case FormatWeCom:
		v = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": s.text(markdown)}}
	case FormatFeishu:
		v = map[string]any{"msg_type": "text", "content": map[string]string{"text": s.text(plainText)}}
	default:
		return nil, fmt.Errorf("unknown notification format %q", f)
	}
	return json.Marshal(v)
}

// Sender posts notifications. Its zero value is usable: http.DefaultTransport, four
// attempts per target with full-jitter backoff from one second, ten seconds per attempt and
// thirty per target, so a dead webhook delays the end of a run by at most half a minute.
type Sender struct {
	Client      *http.Client
	Attempts    int
	BaseBackoff time.Duration
	PerAttempt  time.Duration
	PerTarget   time.Duration
}

// Send posts s to every target and returns one error per target that could not be told
// (nil when all were); the caller logs them as warnings and keeps its exit code.
func (snd Sender) Send(ctx context.Context, targets []Target, s Summary) []error {
	var errs []error
	for _, t := range targets {
		if err := snd.send(ctx, t, s); err != nil {
			errs = append(errs, fmt.Errorf("notify %s: %w", t.Redacted(), err))
		}
	}
	return errs
}

func (snd Sender) send(ctx context.Context, t Target, s Summary) error {
	body, err := Body(t.Format, s)
	if err != nil {
		return err
	}
	client := snd.Client
	if client == nil {
		client = &http.Client{}
	}
	attempts := orInt(snd.Attempts, 4)
	base := orDuration(snd.BaseBackoff, time.Second)
	ctx, cancel := context.WithTimeout(ctx, orDuration(snd.PerTarget, 30*time.Second))
	defer cancel()
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			wait := time.Duration(rand.Int64N(int64(base << (i - 1))))
			select {
			case <-ctx.Done():
				return fmt.Errorf("gave up after %d attempts: %w", i, last)
			case <-time.After(wait):
			}
		}
		retry, err := snd.post(ctx, client, t, body)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			return err
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", attempts, last)
}

// post sends one attempt; retry says whether another may succeed (network errors, 429 and
// 5xx, a service's own rate-limit answer).
func (snd Sender) post(ctx context.Context, client *http.Client, t Target, body []byte) (retry bool, err error) {
	actx, cancel := context.WithTimeout(ctx, orDuration(snd.PerAttempt, 10*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("cannot build the request")
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "upgradeplan-notify")
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error holds the whole URL, token included: keep only what failed.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return true, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("HTTP %d", resp.StatusCode)
	case resp.StatusCode >= 300:
		return false, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return serviceRefusal(t.Format, answer)
}

// serviceRefusal reads the HTTP-200 refusals of the chat services: DingTalk and WeCom
// answer {"errcode": N}, Feishu {"code": N}; 0 is success. Rate limits are worth a retry.
func serviceRefusal(f Format, answer []byte) (retry bool, err error) {
	var r struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
		Code    *int   `json:"code"`
		Msg     string `json:"msg"`
	}
	if f == FormatJSON || f == FormatSlack || json.Unmarshal(answer, &r) != nil {
		return false, nil
	}
	code, msg := 0, ""
	switch {
	case r.ErrCode != nil:
		code, msg = *r.ErrCode, r.ErrMsg
	case r.Code != nil:
		code, msg = *r.Code, r.Msg
	}
	if code == 0 {
		return false, nil
	}
	// DingTalk 130101 (send too fast), WeCom 45009 (API freq out of limit), Feishu 9499 / 11232 (rate limited).
	retry = code == 130101 || code == 45009 || code == 9499 || code == 11232
	return retry, fmt.Errorf("%s refused the message: code %d %s", f, code, msg)
}

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orDuration(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}
