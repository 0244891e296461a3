"""The web pages behind signed links: registration, the intake questionnaire, the agreement.

A small Starlette application served by uvicorn inside ``mediate serve``. Pages are rendered on
the server from ``templates/web/`` in the participant's language and work without JavaScript.
"""
