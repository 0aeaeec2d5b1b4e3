// A QuickFIX C++ drop-copy initiator for fixtap's TestInteropQuickFIXCpp.
//
// usage: interop_initiator CONFIG TOTAL DISCONNECT_AFTER OFFLINE
//
// Logs on as BROKER to TAP (FIX.4.4), sends DISCONNECT_AFTER execution
// reports, drops the TCP connection without a Logout, sends OFFLINE more
// while disconnected (QuickFIX stores them in its FileStore with increasing
// MsgSeqNums but cannot send them), reconnects — the Logon's MsgSeqNum is too
// high for the tap, which asks for a resend that this engine answers from
// its store with PossDupFlag=Y — then sends the rest up to TOTAL and logs
// out. Progress goes to stdout; the last line is a summary the test parses.
// Exit status 0 only after a clean Logout exchange.
//
// Built with -std=c++14: QuickFIX 1.15.1 headers use dynamic exception
// specifications, which the overrides below must repeat.
//
// One thread: the initiator is driven with poll(), so the disconnect and the
// offline sends cannot race the engine's own I/O.
#include <quickfix/Application.h>
#include <quickfix/FileStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketInitiator.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

namespace {

struct App : FIX::NullApplication {
  bool loggedOn = false;
  int logons = 0;
  int logoutsReceived = 0;
  int resendRequests = 0;
  int possDupSent = 0;                // application messages resent (43=Y)
  std::map<std::string, int> fromTap; // MsgTypes the tap sent
  FIX::SessionID id;

  void onLogon(const FIX::SessionID& s) override {
    id = s;
    loggedOn = true;
    ++logons;
    std::cout << "logon " << logons << std::endl;
  }
  void onLogout(const FIX::SessionID&) override {
    loggedOn = false;
    std::cout << "logout" << std::endl;
  }
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) override {
    std::string t = m.getHeader().getField(35);
    ++fromTap[t];
    if (t == "2") {
      ++resendRequests;
      std::cout << "ResendRequest 7=" << m.getField(7) << " 16=" << m.getField(16) << std::endl;
    }
    if (t == "5") ++logoutsReceived;
  }
  void fromApp(const FIX::Message& m, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::UnsupportedMessageType) override {
    ++fromTap[m.getHeader().getField(35)];
  }
  void toApp(FIX::Message& m, const FIX::SessionID&) throw(FIX::DoNotSend) override {
    if (m.getHeader().isSetField(43) && m.getHeader().getField(43) == "Y") ++possDupSent;
  }
};

// er builds the i-th execution report: a rotation of new, partial fill,
// fill, cancel, replace, reject and trade bust over orders of 7 reports.
FIX::Message er(int i) {
  FIX::Message m;
  m.getHeader().setField(8, "FIX.4.4");
  m.getHeader().setField(35, "8");
  const int ord = i / 7;
  const std::string o = std::to_string(ord);
  m.setField(37, "O-" + o);
  m.setField(11, "C-" + o);
  m.setField(17, "X-" + std::to_string(i));
  m.setField(55, "MSFT");
  m.setField(54, "1");
  m.setField(1, "ACC-" + std::to_string(ord % 5));
  m.setField(38, "500");
  m.setField(44, "101.25");
  const char* exec = "0";
  const char* status = "0";
  std::string cum = "0", leaves = "500";
  switch (i % 7) {
  case 0: break; // New
  case 1:        // partial fill
    exec = "F", status = "1", cum = "200", leaves = "300";
    m.setField(32, "200");
    m.setField(31, "101.25");
    break;
  case 2: // fill
    exec = "F", status = "2", cum = "500", leaves = "0";
    m.setField(32, "300");
    m.setField(31, "101.20");
    break;
  case 3: // canceled
    exec = "4", status = "4", leaves = "0";
    break;
  case 4: // replaced
    exec = "5", status = "0";
    m.setField(11, "C-" + o + "-R");
    m.setField(41, "C-" + o);
    break;
  case 5: // rejected
    exec = "8", status = "8", leaves = "0";
    m.setField(103, "0");
    break;
  case 6: // trade bust of this order's fill
    exec = "H", status = "4", cum = "0", leaves = "0";
    m.setField(19, "X-" + std::to_string(i - 4));
    break;
  }
  m.setField(150, exec);
  m.setField(39, status);
  m.setField(14, cum);
  m.setField(151, leaves);
  m.setField(6, "0");
  return m;
}

using Clock = std::chrono::steady_clock;

// pollUntil drives the engine until cond() holds or the timeout passes.
template <class F> bool pollUntil(FIX::Initiator& ini, F cond, double seconds) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (!cond()) {
    if (Clock::now() > end) return false;
    ini.poll(0.01);
  }
  return true;
}

void pollFor(FIX::Initiator& ini, double seconds) {
  pollUntil(ini, [] { return false; }, seconds);
}

int fail(const std::string& why) {
  std::cout << "FAIL " << why << std::endl;
  return 1;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: interop_initiator CONFIG TOTAL DISCONNECT_AFTER OFFLINE" << std::endl;
    return 2;
  }
  const int total = std::atoi(argv[2]), cut = std::atoi(argv[3]), offline = std::atoi(argv[4]);
  try {
    FIX::SessionSettings settings(argv[1]);
    FIX::FileStoreFactory store(settings);
    App app;
    FIX::SocketInitiator ini(app, store, settings);

    if (!pollUntil(ini, [&] { return app.loggedOn; }, 15)) return fail("no logon");
    FIX::Session* s = FIX::Session::lookupSession(app.id);

    int sent = 0;
    auto send = [&](int n) {
      for (int k = 0; k < n && sent < total; ++k, ++sent) {
        FIX::Message m = er(sent);
        if (!FIX::Session::sendToTarget(m, app.id)) throw std::runtime_error("sendToTarget refused");
        if (sent % 50 == 0) ini.poll(0);
      }
    };

    send(cut);
    pollFor(ini, 0.2); // drain the socket
    std::cout << "sent " << sent << "; dropping the connection, next MsgSeqNum " << s->getExpectedSenderNum() << std::endl;
    s->disconnect(); // TCP close, no Logout
    if (s->isLoggedOn()) return fail("still logged on after disconnect");
    const int before = s->getExpectedSenderNum();
    send(offline); // stored, not sent
    std::cout << "sent " << offline << " while offline: MsgSeqNum " << before << ".." << s->getExpectedSenderNum() - 1
              << " stored" << std::endl;

    if (!pollUntil(ini, [&] { return app.logons == 2; }, 15)) return fail("no second logon");
    if (!pollUntil(ini, [&] { return app.resendRequests > 0; }, 10)) return fail("no ResendRequest after the gap");
    pollFor(ini, 0.3);
    std::cout << "resent " << app.possDupSent << " with PossDupFlag=Y" << std::endl;

    send(total - sent);
    pollFor(ini, 0.3);
    std::cout << "sent " << sent << " in all; logging out at MsgSeqNum " << s->getExpectedSenderNum() << std::endl;
    s->logout("interop done");
    if (!pollUntil(ini, [&] { return !app.loggedOn && app.logoutsReceived > 0; }, 10)) return fail("no Logout reply");
    ini.stop(true);

    std::cout << "SUMMARY sent=" << sent << " resendRequests=" << app.resendRequests << " possDup=" << app.possDupSent
              << " lastSeq=" << s->getExpectedSenderNum() - 1 << " fromTap=";
    for (auto& kv : app.fromTap) std::cout << kv.first << ":" << kv.second << ",";
    std::cout << std::endl;
    return 0;
  } catch (std::exception& e) {
    return fail(e.what());
  }
}
