// Domain errors: the throwing hook boost::system::result needs.
#include "model/errors.hpp"

#include <stdexcept>

namespace valtronics::model {

void throw_exception_from_error(const DomainError& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

}  // namespace valtronics::model
