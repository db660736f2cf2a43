package sim

// Answer is one answer the server sent, as Options.Answered receives it.
type Answer struct {
	Protocol Protocol
	// Product and Action are as CallRecord names them ("" where the request named none).
	Product, Action string
	// Version is the API version of the product that answered, "" when none did.
	Version string
	// Status is the HTTP status; Code the error code, "" for success.
	Status int
	Code   string
	// Body is the JSON sent (or, for a dropped connection, the one that was not).
	Body []byte
	// Fault names the injected fault that shaped the answer, "" for none.
	Fault string
}
