#pragma once

#include <cstdio>
#include <string>

#include "fly/client.h"
#include "fly/commands.h"
#include "fly/output.h"

namespace tarmac::fly {

// The client for the target -t names, or why there is none.
Result<Client> client_for(const Global& g);

// Prints "error: <message>" on stderr, as fly does; returns 1.
int fail(const Error& e);
int fail(const std::string& message);

// A JSON field as text, "none" when absent or empty (fly's placeholder).
std::string text_or_none(const nlohmann::json& j, const char* key);

}  // namespace tarmac::fly
