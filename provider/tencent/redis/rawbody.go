package redis

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	jsoniter "github.com/json-iterator/go"
)

// rawBody is the region client's transport: the SDK signs and sends every request as
// always, and for a call whose context carries a rawAnswer (leanSend) it hands the body
// of a 200 JSON answer to that answer's decoder before the SDK sees it. When the decoder
// takes the body, the SDK is given an empty answer ({"Response":{}}) instead.
//
// Why: the SDK reads a DescribeInstances page of 1,000 instances three times with its
// reflection decoder (its transport's error check, which decodes the whole body into an
// error answer twice, then the answer itself); a plan of 56,000 Redis instances spent
// about 2 s of CPU there. The decoder reads it once, into the fields List reads.
//
// Anything the decoder does not take (an error answer, another status, a compressed or
// non-JSON body, a body that cannot be read) reaches the SDK unchanged, so its errors are
// the SDK's own.
type rawBody struct{ base http.RoundTripper }

// rawAnswer is one attempt's decoder; took reports that it took the body.
type rawAnswer struct {
	decode func(body []byte) bool
	took   bool
}

type rawAnswerKey struct{}

// leanSend returns ctx asking rawBody to hand the answer to decode.
func leanSend(ctx context.Context, decode func(body []byte) bool) (context.Context, *rawAnswer) {
	ra := &rawAnswer{decode: decode}
	return context.WithValue(ctx, rawAnswerKey{}, ra), ra
}

// emptyAnswer is what the SDK reads in place of a body the decoder took.
const emptyAnswer = `{"Response":{}}`

func (t rawBody) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	ra, _ := req.Context().Value(rawAnswerKey{}).(*rawAnswer)
	if err != nil || ra == nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "" || !isJSON(resp.Header.Get("Content-Type")) {
		return resp, err
	}
	buf := pageBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	body := buf.Bytes()
	if err != nil {
		// The SDK reads what came and then the same failure (buf now belongs to it).
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), failedRead{err}))
		return resp, nil
	}
	if !ra.decode(body) {
		resp.Body = io.NopCloser(bytes.NewReader(body)) // buf now belongs to the SDK
		return resp, nil
	}
	ra.took = true
	pageBuffers.Put(buf) // the decoder copied what it kept
	resp.Body = io.NopCloser(strings.NewReader(emptyAnswer))
	resp.ContentLength = int64(len(emptyAnswer))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// pageBuffers holds the buffers answers are read into, for the next page: a page of 1,000
// instances is about 470 KB (the simulator's), and io.ReadAll built each one from growing
// zeroed chunks and then a zeroed copy (0.21 s of a 100,000-instance plan's CPU, most of
// it clearing memory). A buffer goes back only when the decoder took its body: the
// decoded answer holds only strings and numbers, which jsoniter copies out of its input.
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// failedRead is a body whose next read fails with err, as the one read from the wire did.
type failedRead struct{ err error }

func (r failedRead) Read([]byte) (int, error) { return 0, r.err }

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// leanJSON decodes the answers rawBody hands over: encoding/json's rules (the SDK's decoder
// is a copy of encoding/json), without its reflection cost.
var leanJSON = jsoniter.ConfigCompatibleWithStandardLibrary

// decodeDescribe is DescribeInstances' decoder for rawBody: it takes a page that decodes
// and carries no error.
func decodeDescribe(into *describeAnswer) func([]byte) bool {
	return func(body []byte) bool {
		var a struct {
			Response *describeResult `json:"Response"`
		}
		if leanJSON.Unmarshal(body, &a) != nil || a.Response == nil || a.Response.Error != nil {
			return false
		}
		into.Response = a.Response
		return true
	}
}
