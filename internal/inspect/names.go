package inspect

// The names of the FIX codes a person reads in an event (FIX 4.4; values of
// older versions that 4.4 dropped keep their old names). A code not listed
// has no name ("") and is shown as it is.

var msgTypeNames = map[string]string{
	"0": "Heartbeat", "1": "TestRequest", "2": "ResendRequest", "3": "Reject",
	"4": "SequenceReset", "5": "Logout", "8": "ExecutionReport", "9": "OrderCancelReject",
	"A": "Logon", "D": "NewOrderSingle", "F": "OrderCancelRequest",
	"G": "OrderCancelReplaceRequest", "H": "OrderStatusRequest", "j": "BusinessMessageReject",
	"AE": "TradeCaptureReport", "AR": "TradeCaptureReportAck",
}

// ExecType (150).
var execTypeNames = map[string]string{
	"0": "New", "1": "PartialFill", "2": "Fill", "3": "DoneForDay", "4": "Canceled",
	"5": "Replaced", "6": "PendingCancel", "7": "Stopped", "8": "Rejected", "9": "Suspended",
	"A": "PendingNew", "B": "Calculated", "C": "Expired", "D": "Restated",
	"E": "PendingReplace", "F": "Trade", "G": "TradeCorrect", "H": "TradeCancel", "I": "OrderStatus",
}

// OrdStatus (39).
var ordStatusNames = map[string]string{
	"0": "New", "1": "PartiallyFilled", "2": "Filled", "3": "DoneForDay", "4": "Canceled",
	"5": "Replaced", "6": "PendingCancel", "7": "Stopped", "8": "Rejected", "9": "Suspended",
	"A": "PendingNew", "B": "Calculated", "C": "Expired", "D": "AcceptedForBidding",
	"E": "PendingReplace",
}

// MsgTypeName returns the name of FIX MsgType (35) t, "" if not known.
func MsgTypeName(t string) string { return msgTypeNames[t] }

// ExecTypeName returns the name of FIX ExecType (150) t, "" if not known.
func ExecTypeName(t string) string { return execTypeNames[t] }

// OrdStatusName returns the name of FIX OrdStatus (39) s, "" if not known.
func OrdStatusName(s string) string { return ordStatusNames[s] }
