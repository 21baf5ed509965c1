// SQLite's parameter placeholders in PostgreSQL's spelling: ?N becomes $N, and a bare ? the next
// number (as SQLite numbers it: one more than the largest so far). Text inside single quotes,
// double quotes and -- comments is left alone. The store's SQL is written once, with ?N
// (store/sql.hpp); the PostgreSQL backend translates it when it prepares a statement.
#pragma once

#include <string>
#include <string_view>

namespace valtronics::store {

std::string to_dollar_placeholders(std::string_view sql);

}  // namespace valtronics::store
