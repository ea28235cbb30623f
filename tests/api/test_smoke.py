async def test_base_endpoint_answers_empty_json_with_api_version(client):
    response = await client.get("/v2/")
    assert response.status == 200
    assert await response.json() == {}
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
