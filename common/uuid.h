#pragma once

#include <string>

namespace tarmac {

// A random version 4 UUID ("3f2b…-…"), the form of Concourse's container and volume handles.
std::string new_uuid();

}  // namespace tarmac
