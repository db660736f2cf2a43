// Drives the simulator with Tencent's own Node SDK (tencentcloud-sdk-nodejs), written by
// nobody here. Every client speaks to redis.tencentcloudapi.com over plain HTTP through an
// agent that connects to the simulator, so the Host header and the signature's service are
// the real ones. Prints one JSON line per call: {name, ok, code, result}.
const http = require("http");
const net = require("net");
const tencentcloud = require("tencentcloud-sdk-nodejs");

const [port, secretId, secretKey] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: false });
agent.createConnection = (opts, cb) => net.connect(Number(port), "127.0.0.1", cb);

function client(reqMethod, signMethod, key) {
  return new tencentcloud.redis.v20180412.Client({
    credential: { secretId, secretKey: key || secretKey },
    region: "ap-shanghai",
    profile: {
      signMethod,
      httpProfile: { endpoint: "redis.tencentcloudapi.com", protocol: "http://", reqMethod, agent },
    },
  });
}

async function run(name, fn) {
  try {
    const result = await fn();
    console.log(JSON.stringify({ name, ok: true, result }));
  } catch (e) {
    console.log(JSON.stringify({ name, ok: false, code: e.code || "", message: e.message }));
  }
}

(async () => {
  const filter = { InstanceIds: ["crs-node-1", "crs-node-2"], Limit: 10, InstanceTags: [{ TagKey: "env", TagValue: "node" }] };
  await run("TC3 POST DescribeInstances", () => client("POST", "TC3-HMAC-SHA256").DescribeInstances(filter));
  await run("TC3 GET DescribeInstances", () => client("GET", "TC3-HMAC-SHA256").DescribeInstances(filter));
  await run("HmacSHA256 GET DescribeInstances", () => client("GET", "HmacSHA256").DescribeInstances(filter));
  await run("HmacSHA256 POST DescribeInstances", () => client("POST", "HmacSHA256").DescribeInstances(filter));
  await run("TC3 POST UpgradeInstance", () =>
    client("POST", "TC3-HMAC-SHA256").UpgradeInstance({ InstanceId: "crs-node-1", MemSize: 8192, RedisShardNum: 1, RedisReplicasNum: 1 }));
  await run("TC3 GET wrong secret", () => client("GET", "TC3-HMAC-SHA256", "not-the-key").DescribeInstances(filter));
  await run("TC3 POST unknown parameter", () => client("POST", "TC3-HMAC-SHA256").DescribeInstances({ Limit: 10, Colour: "red" }));
})();
