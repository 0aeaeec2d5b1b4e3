package fixmap

import (
	"github.com/fixtap/fixtap/internal/chain"
)

// mapCase is one message of the mapping table: it is both a table test
// (want*) and a golden file pair testdata/golden/<name>.{fix,json}.
type mapCase struct {
	name   string
	begin  string
	fields []string
	want   chain.EventType
	stage  string // want Trade.Stage
	bust   bool   // want Trade.TradeBust
	corr   bool   // want Trade.TradeCorrection
	code   string // want ErrorDetails.ErrorCode
}

const (
	fix42 = "FIX.4.2"
	fix44 = "FIX.4.4"
	fixt  = "FIXT.1.1"
)

// er44 builds a FIX 4.4 ExecutionReport body with ExecType et, OrdStatus os
// and LeavesQty leaves.
func er(seq int, et, os, leaves string, extra ...string) []string {
	f := hdr("8", seq,
		"1=ACCT-7", "6=101.25", "11=CL-1", "14=300", "15=USD", "17=EX-"+et, "31=101.25", "32=100",
		"37=ORD-1", "38=1000", "39="+os, "40=2", "44=101.50", "54=1", "55=XYZ", "59=0",
		"60=20250106-08:15:23.450", "150="+et, "151="+leaves)
	return append(f, extra...)
}

// er50 is er for FIXT.1.1 with ApplVerID 9 (FIX 5.0SP2) in the header.
func er50(seq int, et, os, leaves string, extra ...string) []string {
	f := er(seq, et, os, leaves, extra...)
	return append([]string{f[0], "1128=9"}, f[1:]...)
}

// er42 is a FIX 4.2 ExecutionReport with ExecTransType ett.
func er42(seq int, ett, et, os, leaves string, extra ...string) []string {
	return er(seq, et, os, leaves, append([]string{"20=" + ett}, extra...)...)
}

func tcr(seq int, transType string) []string {
	return hdr("AE", seq,
		"571=TR-1", "487="+transType, "856=0", "17=EX-T1", "55=XYZ", "32=500", "31=99.5", "75=20250106",
		"60=20250106-08:15:23.450",
		"552=2",
		"54=1", "37=ORD-B", "11=CL-B", "453=1", "448=FIRM-B", "447=D", "452=1", "1=ACCT-B", "15=USD",
		"54=2", "37=ORD-S", "11=CL-S", "1=ACCT-S", "58=sell side",
		"10001=after-group")
}

var mapCases = []mapCase{
	// ExecutionReport (8), FIX 4.4, by ExecType (150).
	{name: "fix44_er_new", begin: fix44, fields: er(10, "0", "0", "1000"), want: chain.ACK},
	{name: "fix44_er_pending_new", begin: fix44, fields: er(11, "A", "A", "1000"), want: chain.ACK, stage: StagePending},
	{name: "fix44_er_trade_partial", begin: fix44, fields: er(12, "F", "1", "700"), want: chain.PRT},
	{name: "fix44_er_trade_fill", begin: fix44, fields: er(13, "F", "2", "0"), want: chain.EXE},
	{name: "fix44_er_trade_fill_decimal_zero", begin: fix44, fields: er(14, "F", "2", "0.000"), want: chain.EXE},
	{name: "fix44_er_trade_partial_tiny", begin: fix44, fields: er(15, "F", "1", "0.0001"), want: chain.PRT},
	{name: "fix44_er_canceled", begin: fix44, fields: er(16, "4", "4", "0", "58=user cancel"), want: chain.CXL},
	{name: "fix44_er_expired", begin: fix44, fields: er(17, "C", "C", "0"), want: chain.CXL},
	{name: "fix44_er_done_for_day", begin: fix44, fields: er(18, "3", "3", "0"), want: chain.CXL},
	{name: "fix44_er_pending_cancel", begin: fix44, fields: er(19, "6", "6", "700"), want: chain.CXL, stage: StagePending},
	{name: "fix44_er_replaced", begin: fix44, fields: er(20, "5", "0", "700", "41=CL-0"), want: chain.MOD},
	{name: "fix44_er_pending_replace", begin: fix44, fields: er(21, "E", "E", "700", "41=CL-0"), want: chain.MOD, stage: StagePending},
	{name: "fix44_er_restated", begin: fix44, fields: er(22, "D", "0", "700", "378=1"), want: chain.MOD},
	{name: "fix44_er_rejected", begin: fix44, fields: er(23, "8", "8", "0", "103=3", "58=Insufficient margin"), want: chain.REJ},
	{name: "fix44_er_trade_cancel", begin: fix44, fields: er(24, "H", "4", "0", "19=EX-F"), want: chain.CXL, bust: true},
	{name: "fix44_er_trade_correct", begin: fix44, fields: er(25, "G", "2", "0", "19=EX-F"), want: chain.MOD, corr: true},
	{name: "fix44_er_order_status", begin: fix44, fields: er(26, "I", "1", "700"), want: chain.AUD},
	{name: "fix44_er_stopped", begin: fix44, fields: er(27, "7", "7", "700"), want: chain.AUD},
	{name: "fix44_er_suspended", begin: fix44, fields: er(28, "9", "9", "700"), want: chain.AUD},
	{name: "fix44_er_calculated", begin: fix44, fields: er(29, "B", "B", "700"), want: chain.AUD},
	{name: "fix44_er_unknown_exectype", begin: fix44, fields: er(30, "Z", "0", "700"), want: chain.AUD},
	{name: "fix44_er_sides_ordtypes", begin: fix44, fields: []string{"35=8", "49=VENUE", "56=TAP", "34=31", "52=20250106-08:15:23.456",
		"17=EX-SS", "37=ORD-9", "39=0", "40=P", "54=5", "55=XYZ", "150=0", "151=5"}, want: chain.ACK},
	// FIX 4.2: ExecTransType (20), and fills as ExecType 1/2.
	{name: "fix42_er_new", begin: fix42, fields: er42(1, "0", "0", "0", "1000"), want: chain.ACK},
	{name: "fix42_er_partial_fill", begin: fix42, fields: er42(2, "0", "1", "1", "700"), want: chain.PRT},
	{name: "fix42_er_fill", begin: fix42, fields: er42(3, "0", "2", "2", "0"), want: chain.EXE},
	{name: "fix42_er_fill_leaves_positive", begin: fix42, fields: er42(4, "0", "2", "2", "5"), want: chain.PRT},
	{name: "fix42_er_bust", begin: fix42, fields: er42(5, "1", "2", "2", "0", "19=EX-2"), want: chain.CXL, bust: true},
	{name: "fix42_er_correct", begin: fix42, fields: er42(6, "2", "2", "2", "0", "19=EX-2"), want: chain.MOD, corr: true},
	{name: "fix42_er_status", begin: fix42, fields: er42(7, "3", "0", "0", "1000"), want: chain.AUD},
	{name: "fix42_new_order_single", begin: fix42, fields: hdr("D", 8, "11=CL-42", "21=1", "38=100", "40=1", "54=2", "55=XYZ", "60=20250106-08:15:23.400"), want: chain.ORD},
	{name: "fix42_heartbeat", begin: fix42, fields: hdr("0", 9), want: chain.HBT},
	// FIXT.1.1 / FIX 5.0SP2.
	{name: "fix50sp2_er_new", begin: fixt, fields: er50(1, "0", "0", "1000"), want: chain.ACK},
	{name: "fix50sp2_er_trade_partial", begin: fixt, fields: er50(2, "F", "1", "700", "1057=Y"), want: chain.PRT},
	{name: "fix50sp2_er_trade_fill", begin: fixt, fields: er50(3, "F", "2", "0"), want: chain.EXE},
	{name: "fix50sp2_er_triggered", begin: fixt, fields: er50(4, "L", "0", "1000"), want: chain.AUD},
	{name: "fix50sp2_er_locked", begin: fixt, fields: er50(5, "K", "0", "1000"), want: chain.AUD},
	{name: "fix50sp2_er_restated_new", begin: fixt, fields: er50(6, "J", "0", "1000"), want: chain.AUD},
	{name: "fix50sp2_tcr", begin: fixt, fields: append([]string{"35=AE", "1128=9"}, tcr(7, "0")[1:]...), want: chain.EXE},
	{name: "fix50sp2_logon", begin: fixt, fields: hdr("A", 1, "98=0", "108=30", "141=Y", "1137=9"), want: chain.REC},
	{name: "fix50sp2_business_reject", begin: fixt, fields: hdr("j", 8, "1128=9", "45=7", "372=AE", "379=TR-9", "380=3", "58=unsupported"), want: chain.ERR, code: ErrCodeReject},
	// Other FIX 4.4 message types.
	{name: "fix44_order_cancel_reject", begin: fix44, fields: hdr("9", 40, "11=CL-2", "37=ORD-1", "39=0", "41=CL-1", "102=1", "434=1", "58=too late"), want: chain.REJ},
	{name: "fix44_tcr_new", begin: fix44, fields: tcr(41, "0"), want: chain.EXE},
	{name: "fix44_tcr_cancel", begin: fix44, fields: tcr(42, "1"), want: chain.CXL, bust: true},
	{name: "fix44_tcr_replace", begin: fix44, fields: tcr(43, "2"), want: chain.MOD, corr: true},
	{name: "fix44_new_order_single", begin: fix44, fields: hdr("D", 44, "1=ACCT-7", "11=CL-1", "38=1000", "40=2", "44=101.50", "54=1", "55=XYZ", "59=0", "60=20250106-08:15:23.400"), want: chain.ORD},
	{name: "fix44_order_cancel_request", begin: fix44, fields: hdr("F", 45, "11=CL-2", "37=ORD-1", "41=CL-1", "38=1000", "54=1", "55=XYZ", "60=20250106-08:15:23.400"), want: chain.CXL, stage: StageRequest},
	{name: "fix44_order_cancel_replace_request", begin: fix44, fields: hdr("G", 46, "11=CL-3", "37=ORD-1", "41=CL-1", "38=1200", "40=2", "44=101.40", "54=1", "55=XYZ", "60=20250106-08:15:23.400"), want: chain.MOD, stage: StageRequest},
	{name: "fix44_business_reject", begin: fix44, fields: hdr("j", 47, "45=12", "372=D", "380=2", "58=no"), want: chain.ERR, code: ErrCodeReject},
	{name: "fix44_session_reject", begin: fix44, fields: hdr("3", 48, "45=12", "371=44", "372=8", "373=5", "58=Value is incorrect"), want: chain.ERR, code: ErrCodeReject},
	{name: "fix44_dont_know_trade", begin: fix44, fields: hdr("Q", 49, "17=EX-F", "37=ORD-1", "127=A", "54=1", "55=XYZ", "38=1000"), want: chain.ERR, code: ErrCodeReject},
	{name: "fix44_heartbeat", begin: fix44, fields: hdr("0", 50, "112=TR-1"), want: chain.HBT},
	{name: "fix44_test_request", begin: fix44, fields: hdr("1", 51, "112=TR-2"), want: chain.HBT},
	{name: "fix44_logon", begin: fix44, fields: hdr("A", 1, "98=0", "108=30", "141=Y", "789=1"), want: chain.REC},
	{name: "fix44_logout", begin: fix44, fields: hdr("5", 52, "58=end of day"), want: chain.ERR, code: ErrCodeConn},
	{name: "fix44_resend_request", begin: fix44, fields: hdr("2", 53, "7=20", "16=0"), want: chain.ERR, code: ErrCodeRecover},
	{name: "fix44_resend_request_bounded", begin: fix44, fields: hdr("2", 54, "7=20", "16=25"), want: chain.ERR, code: ErrCodeRecover},
	{name: "fix44_sequence_reset_gapfill", begin: fix44, fields: hdr("4", 30, "43=Y", "122=20250106-08:15:20.000", "123=Y", "36=35"), want: chain.ERR, code: ErrCodeRecover},
	{name: "fix44_sequence_reset_reset", begin: fix44, fields: hdr("4", 55, "36=100"), want: chain.ERR, code: ErrCodeRecover},
	{name: "fix44_unknown_msgtype", begin: fix44, fields: hdr("UZZ", 56, "58=custom"), want: chain.AUD},
	{name: "fix44_news_unmapped", begin: fix44, fields: hdr("B", 57, "148=headline"), want: chain.AUD},
	// Messages that cannot be mapped become ERR_PARSE.
	{name: "fix44_er_not_utf8", begin: fix44, fields: er(58, "F", "1", "700", "58=caf\xe9"), want: chain.ERR, code: ErrCodeParse},
	{name: "fix44_er_fill_no_leavesqty", begin: fix44, fields: hdr("8", 59, "17=EX-X", "37=ORD-1", "39=2", "150=F", "55=XYZ"), want: chain.ERR, code: ErrCodeParse},
	{name: "fix44_er_fill_bad_leavesqty", begin: fix44, fields: er(60, "F", "1", "1e3"), want: chain.ERR, code: ErrCodeParse},
	{name: "fix44_resend_missing_end", begin: fix44, fields: hdr("2", 61, "7=20"), want: chain.ERR, code: ErrCodeParse},
	{name: "fix44_tcr_bad_group", begin: fix44, fields: hdr("AE", 62, "571=TR-2", "487=0", "552=3", "54=1", "37=ORD-B", "54=2", "37=ORD-S"), want: chain.ERR, code: ErrCodeParse},
}
