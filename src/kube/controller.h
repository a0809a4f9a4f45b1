#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/informer_factory.h"
#include "kube/kube_api.h"
#include "kube/reconcile_loop.h"
#include "kube/report_once.h"
#include "kube/retry_backoff.h"

namespace ballast::kube {

// What every controller shares, built once by the composition root (which outlives the
// controllers): the API, the shared informer cache, the Event writer, the leader gate,
// the clock and the metrics registry.
struct ControllerContext {
  KubeApi& api;
  InformerFactory& informers;
  EventRecorder& events;
  std::function<bool()> is_leader;
  const Clock& clock;
  MetricsRegistry& metrics;
};

struct ControllerOptions {
  bool dry_run = false;  // plan, log and emit Events for the actions; take none
  // A pass runs at least this often without changes or deadlines.
  std::chrono::milliseconds interval{10'000};
  // Changes arriving together are planned once: a pass runs this long after the first.
  std::chrono::milliseconds debounce{500};
  // A failed write waits 1 s, 2 s, 4 s ... up to 5 min before it is tried again.
  RetryBackoff::Options retry;
};

// The base of the PDB guard and the node pool (controller-runtime's controller in small):
// caches from the shared InformerFactory whose changes poke the ReconcileLoop, the leader
// gate, the report-once Event set, the failed writes' backoff and the injected clock. A
// controller names the caches it reads in watch_resources() and decides and acts in
// reconcile_pass(); both run with the caches and its loop handled here. After each pass
// the loop is asked to run again when the first backing-off write falls due, or at a time
// the pass named with requeue_at() (a timer of its own), whichever comes first.
//
// Owned by the composition root; start() registers the caches, starts the factory's
// informers and the worker thread; stop() joins the worker and removes this controller's
// change handlers. A derived class's destructor must call stop() before its members go.
// Every pass runs on the worker thread.
class Controller {
 public:
  Controller(const ControllerContext& context, const char* name, ControllerOptions options);
  virtual ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void start();
  void stop();  // idempotent
  // Wakes the worker (e.g. on becoming leader).
  void poke() { loop_.poke(); }
  // Passes completed (tests wait on it).
  uint64_t passes() const { return loop_.passes(); }

 protected:
  // The cache of one selection from the shared factory; its changes poke this controller
  // and synced() waits for its first list. Called from watch_resources() or on the worker.
  Informer& watch(const Resource& resource, const std::string& ns = "", const std::string& label_selector = "");
  // Every cache watch() returned has completed its first list.
  bool synced() const;
  bool leads() const { return context_.is_leader(); }
  // Writes happen only on the leader, outside dry-run; checked before each write so a
  // lost lease stops writes at once.
  bool may_write() const { return !options_.dry_run && leads(); }
  bool dry_run() const { return options_.dry_run; }

  KubeApi& api() const { return context_.api; }
  EventRecorder& events() const { return context_.events; }
  const Clock& clock() const { return context_.clock; }
  MetricsRegistry& metrics() const { return context_.metrics; }
  ReportOnce& reported() { return reported_; }
  const Logger& log() const { return log_; }

  // Failed writes, by key ("<kind>|<object>", kind a fixed word: it labels a metric).
  // may_retry(): the key is not backing off. retry_later(): records a failure, counts it
  // in ballast_controller_retries_total{controller, write} and returns the wait before the
  // next attempt in milliseconds (to say once in the failure's log line). Worker thread only.
  bool may_retry(const std::string& key) const { return retries_.due(key, clock().now()); }
  int64_t retry_later(const std::string& key);
  void succeeded(const std::string& key) { retries_.success(key); }
  // The next pass runs by `due` (steady clock) even without a change. Worker thread.
  void requeue_at(Clock::time_point due) { loop_.requeue_at(due); }

 private:
  virtual void watch_resources() = 0;
  // One plan-and-act pass; false when it could not complete (caches not synced, not the leader).
  virtual bool reconcile_pass() = 0;

  const ControllerContext context_;
  const ControllerOptions options_;
  const std::string name_;  // "guard", "nodepool": the metrics' controller label
  Logger log_;
  std::vector<std::pair<Informer*, Informer::HandlerId>> watches_;  // worker thread once started
  // Notes and conflicts already reported, so a steady state emits nothing. Worker only.
  ReportOnce reported_{context_.events};
  RetryBackoff retries_{options_.retry};  // worker only
  // One pass, then a requeue for the earliest failed write falling due.
  bool run_pass();
  // Last: its thread stops before the members a pass uses are destroyed.
  ReconcileLoop loop_{context_.clock, options_.interval, options_.debounce, [this] { return run_pass(); }};
};

}  // namespace ballast::kube
