// The HTTP API of a real `tarmac web` on a real PostgreSQL: auth, team isolation, bad input,
// builds and their event streams.
#include <thread>

#include "atc/db/builds.h"
#include "tests/web_fixture.h"

namespace tarmac::testing {
namespace {

class WebApiTest : public WebFixture {
 protected:
  void SetUp() override {
    web_args_ = {"--client-timeout", "2"};
    WebFixture::SetUp();
  }
};

// info is public; everything else wants a valid token; fly's password login gives one.
TEST_F(WebApiTest, AuthOnEveryRouteGroup) {
  auto info = get("/api/v1/info", "");
  ASSERT_EQ(info.status, 200) << info.error;
  EXPECT_EQ(info.json()["version"], TARMAC_VERSION);

  for (const char* route :
       {"/api/v1/user", "/api/v1/teams", "/api/v1/teams/main", "/api/v1/workers",
        "/api/v1/teams/main/containers", "/api/v1/teams/main/volumes", "/api/v1/builds",
        "/api/v1/teams/main/builds", "/api/v1/builds/1", "/api/v1/builds/1/plan",
        "/api/v1/builds/1/events"}) {
    EXPECT_EQ(get(route, "").status, 401) << route;
    EXPECT_EQ(get(route, "not-a-token").status, 401) << route;
  }
  EXPECT_EQ(put("/api/v1/workers/w/land", "").status, 401);
  EXPECT_EQ(put("/api/v1/builds/1/abort", "").status, 401);
  EXPECT_EQ(put("/api/v1/teams/x", "", "{}").status, 401);

  auto wrong = http(web_->port(), "POST", "/sky/issuer/token", "",
                    "grant_type=password&username=admin&password=nope");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.json()["error"], "invalid_grant");
  auto grant = http(web_->port(), "POST", "/sky/issuer/token", "", "grant_type=client_credentials");
  EXPECT_EQ(grant.status, 400);

  auto user = get("/api/v1/user", admin_);
  ASSERT_EQ(user.status, 200);
  EXPECT_EQ(user.json()["is_admin"], true);
  EXPECT_EQ(user.json()["teams"]["main"][0], "owner");
}

// Team A never sees team B's builds, containers, volumes or team workers, and cannot act
// on them; the admin sees everything.
TEST_F(WebApiTest, TeamIsolation) {
  std::string alice = team_with_owner("a", "alice");
  std::string bob = team_with_owner("b", "bob");
  ASSERT_FALSE(alice.empty());
  ASSERT_FALSE(bob.empty());
  atc::db::BuildStore builds(*pool_);
  auto ba = builds.create_one_off("a", R"({"id":"1"})", "alice");
  auto bb = builds.create_one_off("b", R"({"id":"1"})", "bob");
  ASSERT_TRUE(ba.ok() && bb.ok());
  ASSERT_TRUE(
      pool_
          ->exec("INSERT INTO workers (name, address, team_id, state, heartbeat_interval_ms,"
                 " ttl_ms, expires_at) SELECT 'wb', 'x:1', id, 'running', 1000, 3000,"
                 " now() + interval '1 hour' FROM teams WHERE name = 'b'")
          .ok());
  for (auto [team, build] : {std::pair{"a", ba->id}, std::pair{"b", bb->id}}) {
    std::string t = team;
    ASSERT_TRUE(pool_
                    ->query("INSERT INTO containers (handle, worker_name, state, team_id, build_id)"
                            " SELECT $1, 'wb', 'created', id, $2 FROM teams WHERE name = $3",
                            "c-" + t, build, t)
                    .ok());
    ASSERT_TRUE(
        pool_
            ->query("INSERT INTO volumes (handle, worker_name, state, type, team_id)"
                    " SELECT $1, 'wb', 'created', 'artifact', id FROM teams WHERE name = $2",
                    "v-" + t, t)
            .ok());
  }

  auto list = get("/api/v1/builds", alice);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json().size(), 1u);
  EXPECT_EQ(list.json()[0]["team_name"], "a");
  EXPECT_EQ(get("/api/v1/builds", admin_).json().size(), 2u);
  std::string b_build = "/api/v1/builds/" + std::to_string(bb->id);
  EXPECT_EQ(get(b_build, alice).status, 403);
  EXPECT_EQ(get(b_build + "/plan", alice).status, 403);
  EXPECT_EQ(get(b_build + "/events", alice).status, 403);
  EXPECT_EQ(put(b_build + "/abort", alice).status, 403);
  EXPECT_EQ(get(b_build, bob).status, 200);
  EXPECT_EQ(get("/api/v1/teams/b/builds", alice).status, 403);

  auto containers = get("/api/v1/teams/a/containers", alice);
  ASSERT_EQ(containers.status, 200);
  ASSERT_EQ(containers.json().size(), 1u);
  EXPECT_EQ(containers.json()[0]["id"], "c-a");
  EXPECT_EQ(get("/api/v1/teams/b/containers", alice).status, 403);
  auto volumes = get("/api/v1/teams/a/volumes", alice);
  ASSERT_EQ(volumes.status, 200);
  ASSERT_EQ(volumes.json().size(), 1u);
  EXPECT_EQ(volumes.json()[0]["id"], "v-a");
  EXPECT_EQ(get("/api/v1/teams/b/volumes", alice).status, 403);

  EXPECT_EQ(get("/api/v1/workers", alice).json().size(), 0u);
  EXPECT_EQ(get("/api/v1/workers", bob).json().size(), 1u);
  EXPECT_EQ(put("/api/v1/workers/wb/land", alice).status, 403);
  EXPECT_EQ(put("/api/v1/workers/wb/land", bob).status, 200);

  auto teams = get("/api/v1/teams", alice);
  ASSERT_EQ(teams.json().size(), 1u);
  EXPECT_EQ(teams.json()[0]["name"], "a");
  EXPECT_EQ(get("/api/v1/teams/b", alice).status, 403);
  EXPECT_EQ(put("/api/v1/teams/b", alice, R"({"auth":{"owner":{"users":["local:alice"]}}})").status,
            403);
  EXPECT_EQ(put("/api/v1/teams/c", alice, R"({"auth":{"owner":{"users":["local:alice"]}}})").status,
            403);
}

// Roles: a viewer reads a team's builds but may not abort them or change the team; a member
// may abort.
TEST_F(WebApiTest, RolesWithinATeam) {
  std::string alice = team_with_owner("a", "alice");
  for (const char* u : {"victor", "mary"})
    ASSERT_TRUE(pool_
                    ->query("INSERT INTO users (username, password_hash) SELECT $1,"
                            " password_hash FROM users WHERE username = 'admin'",
                            std::string(u))
                    .ok());
  auto set = put("/api/v1/teams/a", alice,
                 R"({"auth":{"owner":{"users":["local:alice"]},"member":{"users":["local:mary"]},)"
                 R"("viewer":{"users":["local:victor"]}}})");
  ASSERT_EQ(set.status, 200) << set.body;
  std::string victor = web_->login("victor", "secret");
  std::string mary = web_->login("mary", "secret");
  auto b = atc::db::BuildStore(*pool_).create_one_off("a", "{}", "alice");
  ASSERT_TRUE(b.ok());
  std::string build = "/api/v1/builds/" + std::to_string(b->id);
  EXPECT_EQ(get(build, victor).status, 200);
  EXPECT_EQ(get("/api/v1/teams/a/builds", victor).json().size(), 1u);
  EXPECT_EQ(put(build + "/abort", victor).status, 403);
  EXPECT_EQ(
      put("/api/v1/teams/a", victor, R"({"auth":{"owner":{"users":["local:victor"]}}})").status,
      403);
  EXPECT_EQ(put(build + "/abort", mary).status, 204);
  auto user = get("/api/v1/user", victor).json();
  EXPECT_EQ(user["is_admin"], false);
  EXPECT_EQ(user["teams"]["a"][0], "viewer");
}

// Malformed JSON, wrong types, huge bodies, unknown routes and malformed HTTP get a status
// and a message, and the node keeps serving.
TEST_F(WebApiTest, BadInput) {
  auto malformed = put("/api/v1/teams/x", admin_, "{\"auth\": ");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(malformed.body.find("malformed JSON"), std::string::npos);
  auto wrong_type = put("/api/v1/teams/x", admin_, R"({"auth":{"owner":{"users":"local:admin"}}})");
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_NE(wrong_type.body.find("auth.owner.users: expected an array of strings"),
            std::string::npos)
      << wrong_type.body;
  auto bad_role = put("/api/v1/teams/x", admin_, R"({"auth":{"boss":{"users":[]}}})");
  EXPECT_EQ(bad_role.status, 400);
  EXPECT_NE(bad_role.body.find("auth.boss: unknown role"), std::string::npos);
  EXPECT_EQ(put("/api/v1/teams/bad%20name", admin_, R"({"auth":{"owner":{"users":[]}}})").status,
            400);

  auto huge = put("/api/v1/teams/x", admin_, std::string(3 << 20, 'x'));
  EXPECT_EQ(huge.status, 413);

  EXPECT_EQ(get("/api/v1/nope", admin_).status, 404);
  auto method = http(web_->port(), "DELETE", "/api/v1/workers", admin_);
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(get("/api/v1/builds/abc", admin_).status, 400);
  EXPECT_EQ(get("/api/v1/builds/99999", admin_).status, 404);
  EXPECT_EQ(get("/api/v1/builds?limit=0", admin_).status, 400);

  std::string garbage = raw_exchange(web_->port(), "HELLO\r\n\r\n", 5000);
  EXPECT_NE(garbage.find("400"), std::string::npos) << garbage;
  // A client that sends half a request and stalls holds no one else up, and hears 408 after
  // --client-timeout (2 s here).
  int idle_port = web_->port();
  std::string stalled;
  auto t0 = std::chrono::steady_clock::now();
  std::thread idle(
      [&] { stalled = raw_exchange(idle_port, "GET /api/v1/info HTTP/1.1\r\n", 10000); });
  EXPECT_EQ(get("/api/v1/info", "").status, 200);
  idle.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(8));
  EXPECT_NE(stalled.find("408"), std::string::npos) << stalled;

  auto ok = put("/api/v1/teams/x", admin_, R"({"auth":{"owner":{"users":["local:admin"]}}})");
  EXPECT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(put("/api/v1/teams/x", admin_, R"({"auth":{"member":{"users":[]}}})").status, 200);
}

// Split "id: N\nevent: T\ndata: D\n\n" messages.
struct SseMessage {
  std::string id, event, data;
};
std::vector<SseMessage> parse_sse(const std::string& raw) {
  std::vector<SseMessage> out;
  size_t start = raw.find("\r\n\r\n");
  if (start == std::string::npos) return out;
  std::string body = raw.substr(start + 4);
  size_t pos = 0;
  while (true) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    std::string block = body.substr(pos, end - pos);
    pos = end + 2;
    SseMessage m;
    size_t line_start = 0;
    while (line_start < block.size()) {
      size_t nl = block.find('\n', line_start);
      if (nl == std::string::npos) nl = block.size();
      std::string line = block.substr(line_start, nl - line_start);
      line_start = nl + 1;
      if (line.rfind("id: ", 0) == 0) m.id = line.substr(4);
      if (line.rfind("event: ", 0) == 0) m.event = line.substr(7);
      if (line.rfind("data: ", 0) == 0) m.data = line.substr(6);
    }
    if (!m.event.empty()) out.push_back(m);
  }
  return out;
}

std::string events_request(int64_t build, const std::string& token, int last_event_id = -1) {
  std::string req = "GET /api/v1/builds/" + std::to_string(build) +
                    "/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n";
  if (last_event_id >= 0) req += "Last-Event-ID: " + std::to_string(last_event_id) + "\r\n";
  return req + "\r\n";
}

// A build's events stream as Concourse's SSE, live as they are written, end with "end", and
// resume after Last-Event-ID.
TEST_F(WebApiTest, BuildEventsStreamAndResume) {
  atc::db::BuildStore builds(*pool_);
  auto b = builds.create_one_off("main", R"({"id":"task","task":{"name":"t"}})", "admin");
  ASSERT_TRUE(b.ok()) << b.error().what();
  ASSERT_TRUE(builds.start(b->id).ok());
  ASSERT_TRUE(
      builds
          .append_event(b->id, "log", "5.1",
                        R"({"origin":{"id":"task","source":"stdout"},"payload":"one\n","time":1})")
          .ok());
  int port = web_->port();
  std::string live;
  std::thread watcher(
      [&] { live = raw_exchange(port, events_request(b->id, admin_), 20000, "event: end"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(
      builds
          .append_event(b->id, "log", "5.1",
                        R"({"origin":{"id":"task","source":"stdout"},"payload":"two\n","time":2})")
          .ok());
  ASSERT_TRUE(
      builds.append_event(b->id, "status", "1.0", R"({"status":"succeeded","time":3})").ok());
  ASSERT_TRUE(builds.finish(b->id, "succeeded", 300).ok());
  watcher.join();

  EXPECT_NE(live.find("X-ATC-Stream-Version: 2.0"), std::string::npos) << live;
  auto msgs = parse_sse(live);
  ASSERT_EQ(msgs.size(), 4u) << live;
  EXPECT_EQ(msgs[0].id, "0");
  auto first = nlohmann::json::parse(msgs[0].data);
  EXPECT_EQ(first["event"], "log");
  EXPECT_EQ(first["version"], "5.1");
  EXPECT_EQ(first["data"]["payload"], "one\n");
  EXPECT_EQ(nlohmann::json::parse(msgs[1].data)["data"]["payload"], "two\n");
  EXPECT_EQ(nlohmann::json::parse(msgs[2].data)["data"]["status"], "succeeded");
  EXPECT_EQ(msgs[3].event, "end");

  auto resumed =
      parse_sse(raw_exchange(port, events_request(b->id, admin_, 0), 10000, "event: end"));
  ASSERT_EQ(resumed.size(), 3u);
  EXPECT_EQ(resumed[0].id, "1");
  EXPECT_EQ(resumed[2].event, "end");

  auto got = get("/api/v1/builds/" + std::to_string(b->id), admin_);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json()["status"], "succeeded");
  EXPECT_EQ(got.json()["api_url"], "/api/v1/builds/" + std::to_string(b->id));
  auto plan = get("/api/v1/builds/" + std::to_string(b->id) + "/plan", admin_);
  ASSERT_EQ(plan.status, 200);
  EXPECT_EQ(plan.json()["schema"], "exec.v2");
  EXPECT_EQ(plan.json()["plan"]["id"], "task");
}

// Aborting a pending build ends it at once with an aborted status event; builds page with
// limit and a Link header.
TEST_F(WebApiTest, AbortAndPaging) {
  atc::db::BuildStore builds(*pool_);
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    auto b = builds.create_one_off("main", "{}", "admin");
    ASSERT_TRUE(b.ok());
    ids.push_back(b->id);
  }
  auto abort = put("/api/v1/builds/" + std::to_string(ids[0]) + "/abort", admin_);
  EXPECT_EQ(abort.status, 204);
  EXPECT_EQ(get("/api/v1/builds/" + std::to_string(ids[0]), admin_).json()["status"], "aborted");
  auto events =
      parse_sse(raw_exchange(web_->port(), events_request(ids[0], admin_), 10000, "event: end"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(events[0].data)["data"]["status"], "aborted");

  auto page = get("/api/v1/builds?limit=2", admin_);
  ASSERT_EQ(page.status, 200);
  ASSERT_EQ(page.json().size(), 2u);
  EXPECT_EQ(page.json()[0]["id"], ids[2]);
  ASSERT_TRUE(page.headers.count("link"));
  EXPECT_NE(page.headers["link"].find("until=" + std::to_string(ids[1])), std::string::npos);
  auto next = get("/api/v1/builds?limit=2&until=" + std::to_string(ids[1]), admin_);
  ASSERT_EQ(next.json().size(), 1u);
  EXPECT_EQ(next.json()[0]["id"], ids[0]);
}

}  // namespace
}  // namespace tarmac::testing
