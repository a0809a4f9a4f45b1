#include "nodepool/expander.h"

#include <catch2/catch.hpp>

using namespace ballast::nodepool;

namespace {

constexpr int64_t kGi = 1024LL * 1024 * 1024;

// Two groups with two offerings each; options point into them.
struct Fixture {
  NodeGroup low = group("low", 0);
  NodeGroup high = group("high", 10);
  NodeGroup prefers_large = group("prefers-large", 0, "large");

  static NodeGroup group(const char* name, int64_t priority, const char* preferred = "") {
    NodeGroup g;
    g.name = name;
    g.priority = priority;
    g.preferred_offering = preferred;
    g.offerings = {{"small", {2000, 4 * kGi, 110}, 5}, {"large", {4000, 8 * kGi, 110}, 10}};
    return g;
  }

  ExpansionOption option(const NodeGroup& group, size_t offering, int64_t nodes, size_t pods, Resources requested) {
    const Offering& o = group.offerings[offering];
    return {&group, &o, nodes, pods, requested};
  }
};

struct Case {
  const char* name;
  // index of the expected winner in the options below
  size_t winner;
  std::vector<ExpansionOption> (*options)(Fixture&);
};

}  // namespace

TEST_CASE("the expander chain picks priority, preferred offering, least waste, price, most pods", "[expander]") {
  const std::vector<Case> cases{
      {"higher priority wins over less waste", 1,
       [](Fixture& f) {
         return std::vector{f.option(f.low, 0, 1, 2, {2000, 4 * kGi, 2}), f.option(f.high, 1, 1, 1, {500, kGi, 1})};
       }},
      {"least waste wins within a priority", 0,
       [](Fixture& f) {
         return std::vector{f.option(f.low, 0, 1, 2, {1500, 3 * kGi, 2}), f.option(f.low, 1, 1, 2, {1500, 3 * kGi, 2})};
       }},
      {"equal waste: the cheaper option", 1,
       [](Fixture& f) {
         // one large node at half load vs one small node at half load: both waste 1.0
         return std::vector{f.option(f.low, 1, 1, 2, {2000, 4 * kGi, 2}), f.option(f.low, 0, 1, 1, {1000, 2 * kGi, 1})};
       }},
      {"equal waste and price: the one placing more pods", 1,
       [](Fixture& f) {
         return std::vector{f.option(f.low, 0, 1, 1, {1000, 2 * kGi, 1}), f.option(f.low, 0, 1, 4, {1000, 2 * kGi, 4})};
       }},
      {"the preferred offering wins over less waste in its group", 0,
       [](Fixture& f) {
         return std::vector{f.option(f.prefers_large, 1, 1, 1, {1000, 2 * kGi, 1}),
                            f.option(f.prefers_large, 0, 1, 1, {1000, 2 * kGi, 1})};
       }},
      {"a preferred offering does not outrank another group's less wasteful option", 1,
       [](Fixture& f) {
         return std::vector{f.option(f.prefers_large, 1, 1, 1, {1000, 2 * kGi, 1}),
                            f.option(f.low, 0, 1, 1, {2000, 4 * kGi, 1})};
       }},
      {"priority comes before the preferred offering", 1,
       [](Fixture& f) {
         return std::vector{f.option(f.prefers_large, 1, 1, 1, {1000, 2 * kGi, 1}),
                            f.option(f.high, 0, 1, 1, {1000, 2 * kGi, 1})};
       }},
      {"a full tie: the first option (group name, then offering order)", 0,
       [](Fixture& f) {
         return std::vector{f.option(f.low, 0, 1, 1, {1000, 2 * kGi, 1}), f.option(f.low, 0, 1, 1, {1000, 2 * kGi, 1})};
       }},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      Fixture fixture;
      const auto options = c.options(fixture);
      std::vector<const ExpansionOption*> views;
      for (const auto& o : options) views.push_back(&o);
      CHECK(Expander::standard().choose(views) == &options[c.winner]);
    }
  }
}

TEST_CASE("the expander chooses nothing from no options", "[expander]") {
  CHECK(Expander::standard().choose({}) == nullptr);
}

TEST_CASE("a custom chain applies only its own filters", "[expander]") {
  Fixture f;
  const auto options = std::vector{f.option(f.high, 1, 1, 1, {500, kGi, 1}), f.option(f.low, 0, 1, 1, {500, kGi, 1})};
  std::vector<std::unique_ptr<ExpanderFilter>> filters;
  filters.push_back(std::make_unique<PriceFilter>());
  const Expander price_only(std::move(filters));
  CHECK(price_only.choose({&options[0], &options[1]}) == &options[1]);
  CHECK(Expander::standard().choose({&options[0], &options[1]}) == &options[0]);
}

TEST_CASE("least waste scores idle cpu plus idle memory against the new nodes' capacity", "[expander]") {
  Fixture f;
  f.low.reserved = {500, kGi, 0};  // the reserve does not enter the score
  CHECK(LeastWasteFilter::waste(f.option(f.low, 0, 2, 2, {2000, 4 * kGi, 2})) == Approx(1.0));
  CHECK(LeastWasteFilter::waste(f.option(f.low, 0, 1, 2, {2000, 4 * kGi, 2})) == Approx(0.0));
  CHECK(LeastWasteFilter::waste(f.option(f.low, 1, 1, 2, {1000, 6 * kGi, 2})) == Approx(0.75 + 0.25));
}
