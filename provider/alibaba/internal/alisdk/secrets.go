package alisdk

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/upgradeplan/upgradeplan/internal/runecut"
	"github.com/upgradeplan/upgradeplan/provider"
)

// secretMask is what a secret value in an error's text is replaced with.
const secretMask = "******"

// maxMessage is how many bytes of a cloud error's Message are kept (the SDK puts a whole
// non-JSON body there).
const maxMessage = 512

// maskSecrets replaces each secret in s with secretMask, in every encoding a request URL,
// a form body or a JSON echo of the parameters may carry it: as written, JSON-escaped,
// query-escaped, path-escaped and the SDK's own percent-encoding.
func maskSecrets(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		j, _ := json.Marshal(sec)
		for _, plain := range []string{sec, strings.Trim(string(j), `"`)} {
			sdk := strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(url.QueryEscape(plain))
			for _, form := range []string{plain, url.QueryEscape(plain), url.PathEscape(plain), sdk} {
				s = strings.ReplaceAll(s, form, secretMask)
			}
		}
	}
	return s
}

// scrubSecrets removes the call's secrets from a classified error's Message and cause,
// keeping its class, code and request id. The cause is replaced only when its text holds a
// secret, so one without (io.EOF, the executor's "not sent" answer) keeps its chain.
func scrubSecrets(pe *provider.Error, secrets []string) *provider.Error {
	if len(secrets) == 0 {
		return pe
	}
	pe.Message = maskSecrets(pe.Message, secrets)
	if pe.Err != nil {
		if c := maskSecrets(pe.Err.Error(), secrets); c != pe.Err.Error() {
			pe.Err = errors.New(c)
		}
	}
	return pe
}

// cut shortens s to at most max bytes, on a character boundary, marking the cut with "…".
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return runecut.Prefix(s, max) + "…"
}
