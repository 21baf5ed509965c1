// An alert's text (its `message`), built only from bounded parts: every part is cut to its bound
// (config/limits.hpp, "stored text") on a UTF-8 character boundary, whatever is stored. Requests
// already refuse longer values (400); the cut also bounds what an older database may still hold
// (before issue 10 a unit had no bound: one reading with a 1 MB unit made every alert frame of
// its rules larger than a connection's budget, defect 3). So an alert's message has a known
// largest size (engine/message_bounds).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "model/enums.hpp"

namespace valtronics::engine::alert_text {

// A rule alert: "temperature is 31.5 °C, above threshold 30" (no unit: "... is 31.5, ...").
// Numbers are written with 6 significant digits.
std::string threshold(std::string_view metric, double value, std::string_view unit,
                      model::Condition condition, double threshold);

// A device offline alert: "<device name>: <reason>".
std::string offline(std::string_view device_name, std::string_view reason);

// A reason as stored in an alert's metadata: cut to limits::kMaxReasonChars.
std::string reason(std::string_view reason);

// "above", "at or below", ...: how a rule's condition reads in an alert.
std::string_view condition_words(model::Condition c);

// A number as alert text writes it: "%.6g", at most 13 characters ("-1.79769e+308").
std::string number(double v);
inline constexpr std::size_t kMaxNumberChars = 13;

}  // namespace valtronics::engine::alert_text
