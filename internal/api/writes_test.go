package api

import "testing"

// The admission gate asks the calls that write, and only them: a read does
// not wait for the writer, so refusing it for the writer's backlog would
// turn callers away for nothing (TestWritesRefusedWhileBacklogged checks
// the answer through the server).
func TestEndpointsThatWrite(t *testing.T) {
	for name, c := range map[string]struct {
		ep     *endpoint
		writes bool
	}{
		"ResendDCVEmail":         {&resendEndpoint, true},
		"GetDCVEmailAddressList": {&addressListEndpoint, true}, // records its offers
		"AutoUpdateDCV":          {&autoUpdateEndpoint, true},
		"AutoApplySSL":           {&applyEndpoint, true},
		"AutoReplaceSSL":         {&replaceEndpoint, true},
		"AutoRevokeSSL":          {&revokeEndpoint, true},
		"AutoRefund":             {&refundEndpoint, true},
		"GetMDCDomainDetails":    {&detailsEndpoint, false},
		"CollectSSL":             {&collectEndpoint, false}, // a poll: it writes only when a validated order is issued
		"DecodeCSR":              {&decodeEndpoint, false},
	} {
		if c.ep.writes != c.writes {
			t.Errorf("%s: writes %v, want %v", name, c.ep.writes, c.writes)
		}
	}
}
