#include "supervision/supervision_error.hpp"

#include "caf/actor_system_config.hpp"
#include "caf/atom.hpp"
#include "caf/message.hpp"

namespace eventstripe::supervision {

namespace {

// The macro in the header needs a string literal; this keeps the two spellings from drifting.
constexpr caf::atom_value category = caf::atom("supervise");
static_assert(caf::detail::error_factory<supervision_errc>::category == category);

}  // namespace

std::string to_string(supervision_errc code) {
  switch (code) {
    case supervision_errc::intensity_exceeded:
      return "intensity_exceeded";
    case supervision_errc::start_failed:
      return "start_failed";
    case supervision_errc::invalid_child_spec:
      return "invalid_child_spec";
  }
  return "unknown_supervision_error";
}

void add_supervision_error_category(caf::actor_system_config& config) {
  // Not add_error_category<T>(category): in CAF 0.17.6 that template builds a renderer with the
  // wrong signature and does not compile.
  config.add_error_category(category, [](std::uint8_t code, caf::atom_value,
                                         const caf::message& context) {
    auto result = "supervise: " + to_string(static_cast<supervision_errc>(code));
    if (!context.empty())
      result += " " + caf::to_string(context);
    return result;
  });
}

}  // namespace eventstripe::supervision
