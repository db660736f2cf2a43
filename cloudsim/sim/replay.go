package sim

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// incoming is a request's body and parameters, read once before it is authenticated.
type incoming struct {
	body  []byte
	query url.Values
	form  url.Values // a form body's fields; nil for any other body
	err   error
}

// maxBody is Tencent's limit for a TC3 POST (10 MB), larger than any Alibaba RPC body.
const maxBody = 10 << 20

func readIncoming(r *http.Request) *incoming {
	in := &incoming{query: r.URL.Query()}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		in.err = err
		return in
	}
	in.body = body
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" && len(body) > 0 {
		in.form, in.err = url.ParseQuery(string(body))
	}
	return in
}

// params returns the query's and the form body's parameters together.
func (in *incoming) params() url.Values {
	p := url.Values{}
	for k, vs := range in.query {
		p[k] = append(p[k], vs...)
	}
	for k, vs := range in.form {
		p[k] = append(p[k], vs...)
	}
	return p
}

// nonceMemory remembers the signature nonces of accepted signatures, so a replayed
// request is refused. A nonce is kept twice the accepted clock skew: a request whose
// time is further off is refused anyway, whatever its nonce.
type nonceMemory struct {
	mu    sync.Mutex
	keep  time.Duration
	seen  map[string]time.Time
	order []nonceSeen // by arrival, for forgetting the oldest first
}

type nonceSeen struct {
	key string
	at  time.Time
}

func newNonceMemory(skew time.Duration) *nonceMemory {
	return &nonceMemory{keep: 2 * skew, seen: map[string]time.Time{}}
}

// use records key at now and reports whether it was new.
func (n *nonceMemory) use(key string, now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for len(n.order) > 0 && now.Sub(n.order[0].at) > n.keep {
		if n.seen[n.order[0].key].Equal(n.order[0].at) {
			delete(n.seen, n.order[0].key)
		}
		n.order = n.order[1:]
	}
	if _, ok := n.seen[key]; ok {
		return false
	}
	n.seen[key] = now
	n.order = append(n.order, nonceSeen{key, now})
	return true
}
